// placeholder; the real app follows.
