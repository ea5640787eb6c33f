"""decathlon.leaderboard"""
