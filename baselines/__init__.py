"""decathlon.baselines"""
