FROM continuumio/miniconda3 AS conda
WORKDIR /app
COPY environment.yml requirements.txt ./
# The conda images' package cache, under their root prefix /opt/conda.
RUN --mount=type=cache,target=/opt/conda/pkgs conda env create -f environment.yml
# pip in a conda image: conda's package cache stays out of pip's mounts.
RUN --mount=type=cache,target=/opt/conda/pkgs \
    --mount=type=cache,target=/root/.cache/pip \
    pip install -r requirements.txt

FROM mambaorg/micromamba:1.5 AS micromamba
# micromamba's docs: env.yaml into base, as the image's user mambauser (uid 57439).
COPY --chown=mambauser:mambauser env.yaml /tmp/env.yaml
RUN --mount=type=cache,target=/opt/conda/pkgs,uid=57439,gid=57439 \
    micromamba install -y -n base -f /tmp/env.yaml
RUN --mount=type=cache,target=/tmp/mamba/pkgs micromamba create -y -r /tmp/mamba -n app python=3.12

FROM condaforge/miniforge3 AS moved
# The package cache moved by CONDA_PKGS_DIRS (the first of the list is written to).
ENV CONDA_PKGS_DIRS=/cache/conda-pkgs,/opt/conda/pkgs
RUN --mount=type=cache,target=/cache/conda-pkgs mamba install -y numpy
# ~/.conda/pkgs is the user's package cache; /opt/conda/pkgs on a RUN that runs no
# conda is not conda's.
RUN --mount=type=cache,target=/opt/conda/pkgs python -c 'print(1)'

FROM debian:bookworm-slim
COPY --from=conda /opt/conda/envs /envs
COPY --from=micromamba /opt/conda /micromamba
COPY --from=moved /opt/conda /moved
