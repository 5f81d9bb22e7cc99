"""mmx_report: the paper's tables and figures for a run, as one HTML page (plotting lives here, not in mmx);
``mmx_report.render.build_report`` writes it."""
