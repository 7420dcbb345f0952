"""The ImGui panel (:mod:`app.gui.panel.panel`) and its sections, one module each."""
