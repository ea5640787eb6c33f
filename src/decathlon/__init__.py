"""Spacetime Decathlon: does a spatiotemporal model use time?"""

__version__ = "0.1.0"

