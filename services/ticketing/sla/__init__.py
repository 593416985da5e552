"""SLA clocks (TKT-4): deadlines per stage on the site's calendar, warnings before and breaches after."""
