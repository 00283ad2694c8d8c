FROM python:3.12-slim
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install -r requirements.txt
CMD ["python", "app.py"]

FROM node:22 AS web
WORKDIR /web
COPY . /web/
RUN npm ci

# A stage built FROM web inherits its COPY, reported once.
FROM web AS more
RUN yarn install
ADD . /src

# A tool installed before the COPY is not the dependencies: they still come after it.
FROM python:3.12-slim AS poetry
RUN pip install --upgrade pip && pip install poetry
COPY . .
RUN poetry install
