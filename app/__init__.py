"""Strike-a-Pose Explorer: render 3D objects in any pose and see what image classifiers make of them.

Subpackages by layer, imports only going down (docs/architecture.md, checked by lint-imports).
"""
