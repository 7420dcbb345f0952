"""The failure lenses beside the pose search: pixel attacks, fragility maps, evolved fooling images
and skins, and the files they write.  Imports pipeline and below."""
