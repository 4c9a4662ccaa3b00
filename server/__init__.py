"""Relais: real-time pickup alerts for school daycares."""
