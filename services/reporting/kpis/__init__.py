"""An engagement's KPIs over a period, computed from the reporting service's read model."""
