"""The bottom layer: the declared parameter space and poses, pose files, ImageNet names, safe file
writing, where the shaders and the library are.  Imports nothing of app."""
