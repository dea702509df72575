"""Unit constants. Memory is reported in GiB (2**30 bytes), the unit nvidia-smi shows."""

GIB = 2**30
GB = 10**9
TERA = 10**12
MILLION = 10**6
SECONDS_PER_DAY = 86_400
# 365.25 days / 12 months * 24 h: the average month, so yearly totals come out right.
HOURS_PER_MONTH = 730.5
DAYS_PER_MONTH = 30.4375


def gib(n_bytes: float) -> float:
    """Bytes to GiB."""
    return n_bytes / GIB


def format_tokens(n: float) -> str:
    """1234567 -> '1.2M'; for labels."""
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.3g}{suffix}"
    return f"{n:.0f}"
