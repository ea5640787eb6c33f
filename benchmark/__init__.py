"""decathlon.benchmark"""
