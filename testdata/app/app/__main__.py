"""Prints the version of every dependency, proving that each one installed and imports."""

import wb_cli
import wb_config
import wb_core
import wb_crypt
import wb_fastmath
import wb_http
import wb_imaging
import wb_json
import wb_log
import wb_util
import wb_yamlish

DEPENDENCIES = (wb_cli, wb_config, wb_core, wb_crypt, wb_fastmath, wb_http, wb_imaging,
                wb_json, wb_log, wb_util, wb_yamlish)


def main() -> None:
    for module in DEPENDENCIES:
        print(f"{module.NAME}=={module.VERSION}")
    print("app ok")


if __name__ == "__main__":
    main()
