"""Reading datasets and profiling them: file formats, streamed column profiles, image archives.

Plain Python with no Keras: the web process (format detection) and the short worker
(profiling) import it without loading the engine's training side. It depends only on
`jobs.engine.data` and `jobs.engine.facts`; nothing here imports a task or the search core.
"""
