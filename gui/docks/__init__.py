"""The docks around the timeline: alerts, details, process metrics, throughput, catalogue, messages."""
