"""OpenGL through moderngl: contexts, the renderer and its offscreen targets, frames into tensors, and
the differentiable re-shading of the gradient method.  Imports scene and core."""
