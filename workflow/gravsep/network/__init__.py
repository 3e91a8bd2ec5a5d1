"""The neural network: U-Net, losses, augmentation, training, inference.

The only part of the package that imports TensorFlow."""
