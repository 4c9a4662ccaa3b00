"""Emergency closures and evacuation roll calls: start and end, the roll at the assembly
point (pure rules in rules.py), reunification, families told, the report afterwards."""
