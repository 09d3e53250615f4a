"""kubesim: a Kubernetes API server double with simulated controllers (podium's test sandbox).

Run it with ``python include/sandbox/kube.py``. It is not part of the podium package and Airflow
never imports it.
"""
