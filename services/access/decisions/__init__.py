"""The decision API (ACC-5): a reader asks, per swipe, whether a credential opens a door."""
