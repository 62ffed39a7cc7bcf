"""`wfrun report`: one self-contained HTML file about a run, built from its record."""
