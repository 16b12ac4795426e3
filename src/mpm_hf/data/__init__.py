"""Pose corpora (Human3.6M, MPI-INF-3DHP, AMASS) as Hugging Face datasets, and training windows."""
