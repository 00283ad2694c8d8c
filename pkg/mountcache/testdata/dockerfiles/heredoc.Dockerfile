# syntax=docker/dockerfile:1.7
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache/pip <<EOF
set -eux
python -m pip install --upgrade pip
pip install -r requirements.txt
EOF
RUN --mount=type=cache,target=/var/cache/misc <<SCRIPT
echo "not a python tool: pip is only mentioned"
SCRIPT
