"""Authentication providers xlwings Server loads from ibxl's project directory."""
