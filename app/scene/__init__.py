"""Objects: mesh loading (OBJ/MTL, glTF, PLY, STL through trimesh), which faces can be culled, and the
object library (models/ and its manifests).  Imports core."""
