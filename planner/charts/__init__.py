"""Figures (plotly) and the data frames behind them, shared by the pages and the PDF."""
