# The dependencies first, then the code: a code change reuses the install.
FROM python:3.12-slim
WORKDIR /app
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install -r requirements.txt
COPY . .
RUN pip install --no-deps .
CMD ["python", "app.py"]

FROM node:22 AS web
WORKDIR /web
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

# The dependencies installed first (in a parent stage), then the project itself.
FROM python:3.12-slim AS deps
COPY requirements.txt .
RUN pip install -r requirements.txt
FROM deps AS project
COPY . .
RUN pip install -e .

# A tool upgrade and the requirements in one RUN, before the code; then the project alone.
FROM python:3.12-slim AS both
COPY requirements.txt .
RUN pip install --upgrade pip && pip install -r requirements.txt
COPY . .
RUN python -m pip install --no-deps -e .
