"""The timeline view: one painted item for every bar, lanes, marks, the legend and the time grid."""
