"""Pure image functions: bytes in, reports and images out. Nothing here imports Prefect."""
