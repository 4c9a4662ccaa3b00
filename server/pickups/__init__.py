"""The pickup lifecycle: pure rules (`rules`) and the use-cases that apply them (`service`)."""
