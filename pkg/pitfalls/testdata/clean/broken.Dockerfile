# Not a Dockerfile BuildKit parses: no finding, the build reports the error.
RUN pip install --no-cache-dir x
