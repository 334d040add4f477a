"""Task-trained recurrent networks: architectures, training with checkpoints, simulation."""
