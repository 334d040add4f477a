"""Readers and writers: NWB, arrays (numpy / MATLAB), and the results store."""
