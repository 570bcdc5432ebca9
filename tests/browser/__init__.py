"""Browser tests of the dashboard page (see conftest.py)."""
