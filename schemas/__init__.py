"""The official REFI-QDA (QDA-XML 1.0) schemas, MIT licence, as published by REFI."""
