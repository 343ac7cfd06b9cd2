"""Drive a reference server through crashes, outages, load and hostile input, and judge what it did."""
