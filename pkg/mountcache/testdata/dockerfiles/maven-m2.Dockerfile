FROM maven:3.9-eclipse-temurin-21 AS build
WORKDIR /app
COPY pom.xml .
# Docker's docs: all of ~/.m2, which holds the local repository.
RUN --mount=type=cache,target=/root/.m2 mvn -B dependency:go-offline
COPY src ./src
RUN --mount=type=cache,target=/root/.m2/repository mvn -B package -DskipTests
# The wrapper, with the repository moved on the command line.
COPY mvnw .
COPY .mvn .mvn
RUN --mount=type=cache,target=/cache/m2 ./mvnw -B -Dmaven.repo.local=/cache/m2 package
# /root/.m2 on a RUN that runs no mvn is not Maven's.
RUN --mount=type=cache,target=/root/.m2 java -version

FROM maven:3.9-eclipse-temurin-21 AS opts
WORKDIR /app
COPY . .
# The repository moved by MAVEN_OPTS, which bin/mvn hands to the JVM.
ENV MAVEN_OPTS="-Xmx1g -Dmaven.repo.local=/var/maven/repository"
RUN --mount=type=cache,target=/var/maven/repository mvn -B verify
# After USER app, Maven's repository is app's.
RUN useradd -m app
USER app
RUN --mount=type=cache,target=/home/app/.m2,uid=1000 mvn -B -Dmaven.repo.local=/home/app/.m2/repository package

FROM eclipse-temurin:21-jre
COPY --from=build /app/target/app.jar /app.jar
COPY --from=opts /app/target /opts
