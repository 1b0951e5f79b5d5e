"""How work runs on the device, whatever the method: CUDA graphs (capture once, replay) and the
precision the model is evaluated at."""
