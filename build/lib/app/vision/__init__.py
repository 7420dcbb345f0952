"""Classifiers: the model zoo (bundled EfficientNet-Lite, torchvision models), inference, predictions
and their JSON form.  Imports core."""
