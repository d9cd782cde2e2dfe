"""`cmmnet app`: a local web page (Gradio, the optional extra ``pip install cmmnet[app]``) to try CMM-Net on a photo.

- :mod:`.session`: one request through the library's generation path (:func:`cmmnet.generate.write_generation`)
  into a folder, zipped; no Gradio;
- :mod:`.page`: the page (upload or the bundled example, label, K, seed; the K + 1 videos side by side, the
  sheet, one zip) and :func:`serve`; analytics off and nothing fetched from outside, so it works offline.
"""
