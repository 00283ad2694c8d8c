FROM gradle:8.10-jdk21 AS build
WORKDIR /home/gradle/src
COPY --chown=gradle:gradle . .
# Docker's docs: the Gradle user home of root, which the gradle image links to
# /home/gradle/.gradle.
RUN --mount=type=cache,target=/root/.gradle gradle build --no-daemon
RUN --mount=type=cache,target=/home/gradle/.gradle/caches gradle test --no-daemon
# /root/.gradle on a RUN that runs no gradle is not Gradle's.
RUN --mount=type=cache,target=/root/.gradle ls -la

FROM eclipse-temurin:21 AS wrapper
WORKDIR /app
COPY . .
# The wrapper: downloaded dependencies and distributions, inside the user home.
RUN --mount=type=cache,target=/root/.gradle/caches \
    --mount=type=cache,target=/root/.gradle/wrapper \
    ./gradlew build --no-daemon
# The user home moved: -g, then GRADLE_USER_HOME.
RUN --mount=type=cache,target=/gradle-home ./gradlew -g /gradle-home build
ENV GRADLE_USER_HOME=/cache/gradle
RUN --mount=type=cache,target=/cache/gradle ./gradlew build
# With GRADLE_USER_HOME moved, ~/.gradle is no longer where gradle keeps its cache.
RUN --mount=type=cache,target=/root/.gradle ./gradlew build

FROM eclipse-temurin:21-jre
COPY --from=build /home/gradle/src/build/libs /build
COPY --from=wrapper /app/build/libs /wrapper
