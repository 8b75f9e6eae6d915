"""The live aggregator (`pulseboard aggregate`): see docs/aggregator.md."""
