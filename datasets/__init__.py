"""decathlon.datasets"""
