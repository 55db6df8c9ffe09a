"""Reports people look at: self-contained HTML pages with embedded plots (no network at view time).

`eda` is the explore stage's report on the raw data (runs/explore/report.html); `results` is
`python -m pipeline report`'s page on the trained runs, the ensemble and the CV-vs-leaderboard log
(runs/report.html). Each page is a list of sections from a registry (`SECTIONS` in each module), so a
section is one entry; `_html` holds the page, table and figure helpers they share.
"""
