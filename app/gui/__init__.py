"""The desktop window: the app's state and actions (explorer, state, actions), the jobs it runs beside
the view (jobs/), the ImGui panel (panel/), the screen that draws them and the pyglet window.
The only layer that imports pyglet or ImGui; never imported by cli."""
