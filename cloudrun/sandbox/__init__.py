"""Local emulated clouds for the demo and the tests (extra `sandbox`); product code never imports this."""
