"""ModelFactory's fine-tuning jobs, shaped like OpenAI's fine-tuning API, on a persistent queue.

- `store`: jobs and events in sqlite (WAL, synchronous=FULL); running jobs requeued at open.
- `hyperparameters`: OpenAI's names (and our LoRA ones) onto a `TrainingConfig`.
- `sources`: ``file-<sha256>`` uploads and ``datanet:<id>@<version>`` to a `Dataset`.
- `render`: dataset examples to the trainer's prompt/completion text.
- `worker`: one thread per device training the queue, resumable, with a success hook.
- `routes`: ``/v1/files`` and ``/v1/fine_tuning/jobs...`` over the store.

Wiring (in the service):

    jobs = JobStore(data_dir / "jobs")                 # requeues jobs a dead process left running
    sources = [UploadedFileSource(contributions), DatanetSource(datanets, contributions)]
    worker = JobWorker(jobs, sources, base_models, data_dir / "adapters", on_success=publish)
    routes = [*file_routes(contributions),
              *fine_tuning_routes(jobs, sources, base_models, defaults, worker.wake,
                                  cashier.identify)]
    worker.start()   # at shutdown: worker.stop(); jobs.close()
"""
