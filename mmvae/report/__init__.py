"""Per-run reports (metrics.json, report.md, report.html) and tables across runs."""
