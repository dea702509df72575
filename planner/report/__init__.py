"""The plan as a PDF."""
