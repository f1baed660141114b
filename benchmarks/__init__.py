"""Speed and memory figures, run by ``make bench``: one JSON line per figure, each with the
baseline it is compared to, measured in the same run."""
