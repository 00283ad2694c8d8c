# COPY . . from another stage is not the context; an install after a bind mount copies nothing.
FROM python:3.12-slim AS build
WORKDIR /src
RUN --mount=type=bind,source=requirements.txt,target=requirements.txt \
    --mount=type=cache,target=/root/.cache/pip \
    pip install --target /opt/deps -r requirements.txt

FROM python:3.12-slim
COPY --from=build /opt/deps /opt/deps
COPY --from=build /src .
RUN pip install --no-deps --target /opt/app ./wheel
